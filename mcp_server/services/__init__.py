"""Business rules. A service method is one use case: it opens a unit of work, applies the
rules, commits once through the port and returns a result object. No framework imports."""
