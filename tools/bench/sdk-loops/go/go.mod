module github.com/cebus/cebus/tools/bench/sdk-loops/go

go 1.26.0

require github.com/cebus/cebus/sdks/go v0.0.0

require (
	connectrpc.com/connect v1.21.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/cebus/cebus/sdks/go => ../../../../sdks/go
