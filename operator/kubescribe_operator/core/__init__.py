"""The controller core: plain Python, no Kubernetes. Executors plug in through
:class:`kubescribe_operator.core.executor.Executor`."""
