"""Tuning jobs (SageMaker AMT semantics): request models and validation (`spec`), job and trial
state (`records`), the use cases the API and the state machine's steps run (`engine`), and their
DynamoDB storage (`items`, `repository`). See docs/tuning.md."""
