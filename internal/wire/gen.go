package wire

// wirepb/wire.pb.go is generated from proto/strategos/wire/v1/wire.proto and
// checked in, so that building needs no protoc. To regenerate it, install
// protoc (3.21 or later) and the plugin
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//
// then run go generate ./internal/wire/ from the module root.

//go:generate protoc --proto_path=../../proto --go_out=../.. --go_opt=module=github.com/strategos/strategos strategos/wire/v1/wire.proto
