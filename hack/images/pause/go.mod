module kaito.sh/pause

go 1.21
