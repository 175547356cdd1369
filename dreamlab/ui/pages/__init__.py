"""The app's pages, one module each, in the navigation's order (see ``dreamlab.ui.app``)."""
