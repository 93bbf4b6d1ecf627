"""Planning, executing and storing runs."""
