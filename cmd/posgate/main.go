package main

import (
	_ "github.com/charmbracelet/bubbletea"
	_ "github.com/coder/websocket"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "modernc.org/sqlite"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/stretchr/testify/require"
)

func main() {}
