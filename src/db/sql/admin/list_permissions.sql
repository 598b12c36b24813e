select p.permission, p.description
from auth.permissions p
order by p.permission
