"""Qt widgets, item models and plots: they render core's data and call core's async functions."""
