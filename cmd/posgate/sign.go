package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/posgate/posgate/protocol"
	"github.com/spf13/cobra"
)

func signCmd(e *env) *cobra.Command {
	var secret string
	c := &cobra.Command{
		Use:   "sign",
		Short: "Print the string to sign and the signature of a JSON envelope read on stdin",
		Long: `Read a request envelope {"user","sign","method","time","data"} or a
notification {"sign","data"} on stdin, exactly as it is sent, and print the
string to sign and its signature under --secret, to compare with what your
own code computes. The envelope is decoded as posgate decodes it, so a body
posgate would refuse is reported. When the envelope carries a sign, the
command says whether it matches, and exits non-zero if it does not.`,
		Example: `  echo '{"user":"016683","method":"v3.QueryOrder","time":1546588959,"data":{"trade_id":"4a49ffb3-a30f-ba92-9422-1969afb6f121"}}' | posgate sign --secret $SECRET`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if secret == "" {
				return errors.New("--secret (or POSGATE_SECRET) is required")
			}
			body, err := io.ReadAll(io.LimitReader(e.stdin, protocol.MaxBodyBytes+1))
			if err != nil {
				return err
			}
			if len(body) > protocol.MaxBodyBytes {
				return fmt.Errorf("body over %d bytes: posgate answers 413", protocol.MaxBodyBytes)
			}
			req, err := protocol.DecodeRequest(body)
			if err != nil {
				return fmt.Errorf("posgate would refuse this body: %w", err)
			}
			toSign := req.StringToSign()
			sign := protocol.Sign(secret, toSign)
			fmt.Fprintf(e.stdout, "string_to_sign=%s\nsign=%s\n", toSign, sign)
			if req.Sign == "" {
				return nil
			}
			ok := protocol.Verify(secret, toSign, req.Sign)
			fmt.Fprintf(e.stdout, "envelope_sign_ok=%t\n", ok)
			if !ok {
				return fmt.Errorf("the envelope's sign %s is not the signature of that string under this secret", req.Sign)
			}
			return nil
		},
	}
	c.Flags().StringVar(&secret, "secret", "", "the secret_key to sign with; prefer the variable, which other users cannot see in ps")
	envFlag(c.Flags(), "secret", "POSGATE_SECRET")
	return c
}
