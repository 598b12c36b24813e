delete from auth.code_guards where identifier = $1 and (locked_until is null or locked_until <= $2)
