// no layer claims this folder: a violation
