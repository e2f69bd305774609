"""HTTP building blocks shared by every service: app factory, problem details, auth."""
