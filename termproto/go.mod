module github.com/posgate/posgate/termproto

go 1.26.0

require github.com/posgate/posgate/protocol v0.0.0-00010101000000-000000000000

replace github.com/posgate/posgate/protocol => ../protocol
