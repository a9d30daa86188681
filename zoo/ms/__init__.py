"""MindSpore-only building blocks: layers, kernel dispatch and weight loading shared by all families."""

from zoo.ms.runtime import prefer_host_blocking_run

prefer_host_blocking_run()
