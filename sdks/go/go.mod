module github.com/cebus/cebus/sdks/go

go 1.26.0

require (
	connectrpc.com/connect v1.21.1
	google.golang.org/protobuf v1.36.12
)

require github.com/google/uuid v1.6.0
