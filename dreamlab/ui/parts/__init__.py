"""Parts of the pages too large to live in the page module (each used by one page or a few)."""
