select g.locked_until
from auth.code_guards g
where g.identifier = $1 and g.locked_until > $2
