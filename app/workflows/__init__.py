"""The runs' workflows: ordered, checkpointed steps over the use cases (app/resolvers/).

`base.py` says what a workflow is, `registry.py` lists them; app/jobs/engine.py runs them.
"""
