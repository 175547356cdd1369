"""Pieces the pages share or are made of: layout, pickers, the job gate, the throttle..."""
