module github.com/cebus/cebus/conformance/adapters/go

go 1.26.0

require (
	github.com/cebus/cebus/sdks/go v0.0.0
	google.golang.org/protobuf v1.36.12
)

require (
	connectrpc.com/connect v1.21.1 // indirect
	github.com/google/uuid v1.6.0 // indirect
)

replace github.com/cebus/cebus/sdks/go => ../../../sdks/go
