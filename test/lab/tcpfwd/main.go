// Command tcpfwd forwards one TCP listen address to another. The demo uses it to
// show the Temporal Web UI, which runs in a lab node's network namespace, on the
// host's 127.0.0.1:8233.
//
//	tcpfwd -listen 127.0.0.1:8233 -to 10.255.0.12:8233
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	listen := flag.String("listen", "", "address to listen on (loopback)")
	to := flag.String("to", "", "address to forward to")
	flag.Parse()
	if err := run(*listen, *to); err != nil {
		fmt.Fprintln(os.Stderr, "tcpfwd:", err)
		os.Exit(1)
	}
}

func run(listen, to string) error {
	if listen == "" || to == "" {
		return fmt.Errorf("-listen and -to are required")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go forward(c, to)
	}
}

func forward(c net.Conn, to string) {
	defer c.Close()
	u, err := net.Dial("tcp", to)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpfwd: dial:", err)
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
}
