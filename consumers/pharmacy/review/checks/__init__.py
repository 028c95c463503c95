"""One module per kind of review rule: each reads its rules' own fields (`READER`) and checks a
prescription against them (`check`)."""
