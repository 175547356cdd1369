"""The Streamlit UI: the only package of DreamLab that imports streamlit."""
