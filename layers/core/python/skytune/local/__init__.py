"""Local mode: the synthesised stack on one machine (DynamoDB Local, in-process Lambda handlers)."""
