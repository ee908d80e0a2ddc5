package temporalconn

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// defaultConverterAllowed are the only files that may name the SDK's default
// data converter: where the client's converter is built, and the Starter's
// fallback for a nil DataConverter. Anywhere else it would decode payloads
// without the codec, and with the codec on that read fails or shows nothing.
var defaultConverterAllowed = map[string]bool{
	"internal/temporalconn/temporalconn.go": true,
	"internal/payloadcodec/codec.go":        true,
	"starter/observe.go":                    true,
}

// Every decode of a Temporal payload must go through the client's data
// converter: a payload's bytes unmarshalled by hand (json.Unmarshal of
// p.Data or p.GetData()) or a converter other than the client's would read
// ciphertext once the payload codec is on.
func TestPayloadsAreDecodedOnlyByTheClientsConverter(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(self), "..", ".."))
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			// tools/ are other modules (the Temporal server); testdata is data.
			if rel == "tools" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, _ := fn.X.(*ast.Ident)
			switch {
			case pkg != nil && pkg.Name == "converter" && fn.Sel.Name == "GetDefaultDataConverter" && !defaultConverterAllowed[filepath.ToSlash(rel)]:
				t.Errorf("%s: converter.GetDefaultDataConverter() bypasses the client's data converter (and the payload codec); "+
					"use the converter temporalconn.Options.Connect returns", fset.Position(call.Pos()))
			case pkg != nil && (pkg.Name == "json" || pkg.Name == "proto" || pkg.Name == "protojson") && fn.Sel.Name == "Unmarshal" &&
				len(call.Args) > 0 && readsPayloadData(call.Args[0]):
				t.Errorf("%s: %s.Unmarshal of a payload's bytes bypasses the client's data converter (and the payload codec); "+
					"decode with DataConverter.FromPayload", fset.Position(call.Pos()), pkg.Name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// readsPayloadData reports whether e is x.Data or x.GetData(), how a
// payload's raw bytes are read.
func readsPayloadData(e ast.Expr) bool {
	if call, ok := e.(*ast.CallExpr); ok {
		e = call.Fun
	}
	sel, ok := e.(*ast.SelectorExpr)
	return ok && (sel.Sel.Name == "Data" || sel.Sel.Name == "GetData")
}
