select u.id
from auth.users u
where u.phone_number = $1
