"""SQLAlchemy async implementations of the services' ports, in domain words. No business decisions."""
