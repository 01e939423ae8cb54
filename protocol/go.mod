module github.com/posgate/posgate/protocol

go 1.26.0
