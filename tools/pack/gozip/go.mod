module github.com/cebus/cebus/tools/pack/gozip

go 1.26.0

require golang.org/x/mod v0.43.0
