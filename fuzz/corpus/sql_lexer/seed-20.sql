/* c */ begin; -- x
start transaction; // y
commit; rollback; DROP USER IDENTIFIER('"a""b"')