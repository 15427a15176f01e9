"""Lambda steps of the tuning state machine (thin: parse the event, call skytune.tuning.engine)."""
