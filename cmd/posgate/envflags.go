package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flag annotations: the variable that may set a flag, and the flags whose
// value must be above zero.
const (
	envAnnotation      = "posgate-env"
	positiveAnnotation = "posgate-positive"
)

// envFlag lets the variable envName set the flag name when the command
// line does not. The variable is read when the command runs (applyEnv),
// never taken as the flag's default: a default shows in --help, and
// POSGATE_DB may hold a password, POSGATE_SECRET a secret.
func envFlag(f *pflag.FlagSet, name, envName string) {
	f.Lookup(name).Usage += " (env " + envName + ")"
	f.SetAnnotation(name, envAnnotation, []string{envName})
}

// positive marks flags whose zero or negative value is refused: zero
// would silently mean the default, or switch a bound off.
func positive(f *pflag.FlagSet, names ...string) {
	for _, n := range names {
		f.SetAnnotation(n, positiveAnnotation, []string{"true"})
	}
}

// applyEnv sets each flag of c that the command line left alone from its
// variable, and refuses a value the flag cannot hold, naming the variable.
func applyEnv(e *env, c *cobra.Command) error {
	var errs []error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		names := f.Annotations[envAnnotation]
		if len(names) == 0 || f.Changed {
			return
		}
		if v := e.getenv(names[0]); v != "" {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s (for --%s): %w", names[0], f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// checkPositive refuses a zero or negative value of a flag marked positive.
func checkPositive(c *cobra.Command) error {
	var errs []error
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Annotations[positiveAnnotation] == nil {
			return
		}
		if v := f.Value.String(); v == "0" || v == "0s" || v[0] == '-' {
			errs = append(errs, fmt.Errorf("--%s%s must be above zero, not %s", f.Name, orEnv(f), v))
		}
	})
	return errors.Join(errs...)
}

// orEnv is " (or POSGATE_...)" for a flag a variable may set.
func orEnv(f *pflag.Flag) string {
	if names := f.Annotations[envAnnotation]; len(names) > 0 {
		return " (or " + names[0] + ")"
	}
	return ""
}

// envName is a flag's variable: POSGATE_ and the flag's name in upper
// case, dashes as underscores (--read-timeout: POSGATE_READ_TIMEOUT).
func envName(flag string) string {
	return "POSGATE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}
