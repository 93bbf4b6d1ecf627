"""Reports and exports of finished runs."""
