"""MindSpore-only building blocks: layers, kernel dispatch and weight loading shared by all families."""
