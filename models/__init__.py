"""Database tables and the data types shared by workflows, activities and the API."""
