"""`field__any_of=values`: `__in` sent to PostgreSQL as one array parameter.

Django writes `__in` as `IN (%s, %s, ...)`, one placeholder per value. For the hundreds of ids a batch
looks up, psycopg splits such a statement at every placeholder and adapts each value in Python on every
call (it keeps the split only for statements of at most 50 parameters), and PostgreSQL parses every
element. `= ANY(%s)` is one parameter whatever the count. Other databases get `__in`'s own SQL.

The array goes in through a one-row sub-select, so the planner does not see its values and plans as for
a few keys: an index lookup each, which is what a batch's list of ids wants. Seeing 500 keys on a column
without statistics (a table that grew since it was last analysed, as the outbox does in its first busy
hour, or any table on a server without autovacuum), it reckoned each key matched half a percent of the
table, so all 500 most of it, and read the whole table instead, once per batch.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject
from django.db.models.lookups import In
from django.db.models.sql.compiler import SQLCompiler


class AnyOf(In):
    lookup_name = "any_of"

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        if not self.rhs_is_direct_value():  # a subquery: as `__in` writes it
            sql, params = self.as_sql(compiler, connection)
            return sql, tuple(params)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        # As `__in`: each value once, None never matches, and no values means no rows without a query.
        values = [
            field.get_db_prep_value(value, connection, prepared=True)
            for value in dict.fromkeys(self.rhs)
            if value is not None
        ]
        if not values:
            raise EmptyResultSet
        db_type = field.db_type(connection)
        if db_type is None:
            return f"{lhs} = ANY(%s)", (*lhs_params, values)
        # Through a one-row sub-select (see the module docstring); the cast makes it an array expression,
        # where `ANY (SELECT ...)` alone would compare with each row of the sub-select.
        return f"{lhs} = ANY((SELECT %s)::{db_type}[])", (*lhs_params, values)


Field.register_lookup(AnyOf)
# Related fields list their own lookups and do not inherit Field's.
ForeignObject.register_lookup(AnyOf)
