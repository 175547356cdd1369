"""The app's pages, one module each: ``render()`` draws the page."""
