"""What explains a failure: tracemalloc lines, gc types, memray captures, V8 heap snapshots."""
