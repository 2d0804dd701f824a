package deploy_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file reads CloudFormation YAML into plain Go values and renders a template for a set of
// parameter values the way CloudFormation would: conditions decided, Fn::If branches chosen,
// AWS::NoValue dropped, Fn::Sub/Join/Split/Select/FindInMap computed. References to resources
// render as placeholders, "<Logical>" for Ref and "<Logical.Attr>" for Fn::GetAtt, so a test can
// follow them (a service's task definition, a task definition's role).

// cfnFunctions maps the YAML short-form tags to the long-form intrinsic function names.
var cfnFunctions = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub",
	"!Join": "Fn::Join", "!Split": "Fn::Split", "!Select": "Fn::Select", "!If": "Fn::If",
	"!Equals": "Fn::Equals", "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or",
	"!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Length": "Fn::Length",
	"!ToJsonString": "Fn::ToJsonString",
}

// pseudoParameters are the AWS:: names Ref accepts besides parameters and resources.
var pseudoParameters = map[string]string{
	"AWS::AccountId":        "123456789012",
	"AWS::Region":           "eu-west-1",
	"AWS::Partition":        "aws",
	"AWS::StackName":        "fleet",
	"AWS::StackId":          "arn:aws:cloudformation:eu-west-1:123456789012:stack/fleet/1",
	"AWS::URLSuffix":        "amazonaws.com",
	"AWS::NotificationARNs": "",
	"AWS::NoValue":          "",
}

// loadCFN parses a CloudFormation YAML template: mappings, sequences and scalars become
// map[string]any, []any and string/int/bool/float64; a short-form tag (!Ref x) becomes the
// long form ({"Ref": "x"}), with !GetAtt "A.B" split into ["A", "B"].
func loadCFN(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v, err := cfnNode(&doc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: the template is not a mapping", path)
	}
	return m, nil
}

func cfnNode(n *yaml.Node) (any, error) {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			return nil, errors.New("want exactly one YAML document")
		}
		return cfnNode(n.Content[0])
	}
	if n.Kind == yaml.AliasNode {
		return nil, fmt.Errorf("line %d: YAML aliases are not supported by CloudFormation", n.Line)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn, ok := cfnFunctions[n.Tag]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
		}
		plain := *n
		switch n.Kind {
		case yaml.ScalarNode:
			plain.Tag = "!!str"
		case yaml.SequenceNode:
			plain.Tag = "!!seq"
		case yaml.MappingNode:
			plain.Tag = "!!map"
		}
		arg, err := cfnNode(&plain)
		if err != nil {
			return nil, err
		}
		if s, ok := arg.(string); ok && fn == "Fn::GetAtt" {
			res, attr, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
			}
			arg = []any{res, attr}
		}
		return map[string]any{fn: arg}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if k == "<<" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not supported by CloudFormation", n.Content[i].Line)
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			v, err := cfnNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := cfnNode(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return strconv.Atoi(n.Value)
		case "!!bool":
			return n.Value == "true", nil
		case "!!float":
			return strconv.ParseFloat(n.Value, 64)
		case "!!null":
			return nil, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

// intrinsic returns the function name and argument when v is an intrinsic function call.
func intrinsic(v any) (string, any, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", nil, false
	}
	for k, arg := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, arg, true
		}
	}
	return "", nil, false
}

// subVariables returns the ${...} names of an Fn::Sub string, without the ${!Literal} escapes.
func subVariables(s string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`\$\{([^}]*)\}`).FindAllStringSubmatch(s, -1) {
		if !strings.HasPrefix(m[1], "!") {
			out = append(out, strings.TrimSpace(m[1]))
		}
	}
	return out
}

// cfnRef is one reference from somewhere in a template: a Ref, a GetAtt, a ${} of a Sub, a
// condition name or a mapping.
type cfnRef struct {
	kind, target, attr, at string
}

// cfnRefs walks v and returns every reference it makes. Fn::Sub's own variables are resolved
// locally and not reported.
func cfnRefs(v any, at string) []cfnRef {
	var refs []cfnRef
	var walk func(v any, at string)
	walk = func(v any, at string) {
		if fn, arg, ok := intrinsic(v); ok {
			at := at + "/" + fn
			switch fn {
			case "Ref":
				if s, ok := arg.(string); ok {
					refs = append(refs, cfnRef{kind: "Ref", target: s, at: at})
				} else {
					refs = append(refs, cfnRef{kind: "Ref", target: fmt.Sprint(arg), at: at + " (not a string)"})
				}
				return
			case "Condition":
				refs = append(refs, cfnRef{kind: "Condition", target: fmt.Sprint(arg), at: at})
				return
			case "Fn::GetAtt":
				if a, ok := arg.([]any); ok && len(a) == 2 {
					refs = append(refs, cfnRef{kind: "GetAtt", target: fmt.Sprint(a[0]), attr: fmt.Sprint(a[1]), at: at})
				} else {
					refs = append(refs, cfnRef{kind: "GetAtt", target: fmt.Sprint(arg), at: at + " (want [Resource, Attribute])"})
				}
				return
			case "Fn::Sub":
				var s string
				local := map[string]bool{}
				switch a := arg.(type) {
				case string:
					s = a
				case []any:
					if len(a) == 2 {
						s, _ = a[0].(string)
						if vars, ok := a[1].(map[string]any); ok {
							for k, v := range vars {
								local[k] = true
								walk(v, at+"/"+k)
							}
						}
					}
				}
				for _, name := range subVariables(s) {
					if local[name] {
						continue
					}
					if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
						refs = append(refs, cfnRef{kind: "GetAtt", target: res, attr: attr, at: at})
					} else {
						refs = append(refs, cfnRef{kind: "Ref", target: name, at: at})
					}
				}
				return
			case "Fn::If":
				if a, ok := arg.([]any); ok && len(a) == 3 {
					refs = append(refs, cfnRef{kind: "Condition", target: fmt.Sprint(a[0]), at: at})
					walk(a[1], at+"/true")
					walk(a[2], at+"/false")
				} else {
					refs = append(refs, cfnRef{kind: "Condition", target: "", at: at + " (want [Condition, then, else])"})
				}
				return
			case "Fn::FindInMap":
				if a, ok := arg.([]any); ok && len(a) == 3 {
					if s, ok := a[0].(string); ok {
						refs = append(refs, cfnRef{kind: "Mapping", target: s, at: at})
					}
				}
			}
			walk(arg, at)
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range x {
				walk(c, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(v, at)
	return refs
}

// noValue is what Ref AWS::NoValue renders to; containers drop it.
type noValue struct{}

// cfnRender renders a template for one set of parameter values.
type cfnRender struct {
	tpl        map[string]any
	params     map[string]any
	conditions map[string]bool
	deciding   map[string]bool
}

// renderCFN decides the conditions for params (defaults filled in from the template) and
// returns the resources that exist under them, rendered.
func renderCFN(tpl map[string]any, params map[string]any) (map[string]map[string]any, *cfnRender, error) {
	r := &cfnRender{tpl: tpl, params: map[string]any{}, conditions: map[string]bool{}, deciding: map[string]bool{}}
	decl, _ := tpl["Parameters"].(map[string]any)
	for name, d := range decl {
		def, _ := d.(map[string]any)
		v, given := params[name]
		if !given {
			dv, ok := def["Default"]
			if !ok {
				return nil, nil, fmt.Errorf("parameter %s has no default and no value", name)
			}
			v = fmt.Sprint(dv)
		}
		if err := checkParameter(name, def, v); err != nil {
			return nil, nil, err
		}
		r.params[name] = v
	}
	for name := range params {
		if _, ok := decl[name]; !ok {
			return nil, nil, fmt.Errorf("value for undeclared parameter %s", name)
		}
	}
	conds, _ := tpl["Conditions"].(map[string]any)
	for name := range conds {
		if _, err := r.condition(name); err != nil {
			return nil, nil, err
		}
	}
	out := map[string]map[string]any{}
	resources, _ := tpl["Resources"].(map[string]any)
	for name, res := range resources {
		rm, _ := res.(map[string]any)
		if c, ok := rm["Condition"].(string); ok {
			on, err := r.condition(c)
			if err != nil {
				return nil, nil, err
			}
			if !on {
				continue
			}
		}
		v, err := r.eval(rm)
		if err != nil {
			return nil, nil, fmt.Errorf("resource %s: %w", name, err)
		}
		out[name] = v.(map[string]any)
	}
	return out, r, nil
}

// checkParameter checks a value against the declaration's AllowedValues, AllowedPattern,
// MinLength and MinValue/MaxValue.
func checkParameter(name string, def map[string]any, v any) error {
	values := []string{}
	switch x := v.(type) {
	case string:
		values = append(values, x)
	case []any:
		for _, e := range x {
			values = append(values, fmt.Sprint(e))
		}
	}
	typ, _ := def["Type"].(string)
	if _, isList := v.([]any); isList != strings.HasPrefix(typ, "List<") {
		return fmt.Errorf("parameter %s of type %s: value %v", name, typ, v)
	}
	for _, s := range values {
		if allowed, ok := def["AllowedValues"].([]any); ok {
			found := false
			for _, a := range allowed {
				found = found || fmt.Sprint(a) == s
			}
			if !found {
				return fmt.Errorf("parameter %s: %q is not one of %v", name, s, allowed)
			}
		}
		if p, ok := def["AllowedPattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("parameter %s: AllowedPattern %q: %w", name, p, err)
			}
			if !re.MatchString(s) {
				return fmt.Errorf("parameter %s: %q does not match AllowedPattern %s", name, s, p)
			}
		}
		if n, ok := def["MinLength"].(int); ok && len(s) < n {
			return fmt.Errorf("parameter %s: %q is shorter than MinLength %d", name, s, n)
		}
		if typ == "Number" {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("parameter %s: %q is not a number", name, s)
			}
			if lo, ok := def["MinValue"].(int); ok && f < float64(lo) {
				return fmt.Errorf("parameter %s: %s below MinValue %d", name, s, lo)
			}
			if hi, ok := def["MaxValue"].(int); ok && f > float64(hi) {
				return fmt.Errorf("parameter %s: %s above MaxValue %d", name, s, hi)
			}
		}
	}
	return nil
}

func (r *cfnRender) condition(name string) (bool, error) {
	if v, ok := r.conditions[name]; ok {
		return v, nil
	}
	if r.deciding[name] {
		return false, fmt.Errorf("condition %s depends on itself", name)
	}
	r.deciding[name] = true
	conds, _ := r.tpl["Conditions"].(map[string]any)
	def, ok := conds[name]
	if !ok {
		return false, fmt.Errorf("condition %s is not defined", name)
	}
	v, err := r.decide(def)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	r.conditions[name] = v
	return v, nil
}

func (r *cfnRender) decide(v any) (bool, error) {
	fn, arg, ok := intrinsic(v)
	if !ok {
		return false, fmt.Errorf("%v is not a condition function", v)
	}
	args, _ := arg.([]any)
	switch fn {
	case "Condition":
		return r.condition(fmt.Sprint(arg))
	case "Fn::Equals":
		if len(args) != 2 {
			return false, errors.New("Fn::Equals wants two values")
		}
		a, err := r.eval(args[0])
		if err != nil {
			return false, err
		}
		b, err := r.eval(args[1])
		if err != nil {
			return false, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	case "Fn::Not":
		if len(args) != 1 {
			return false, errors.New("Fn::Not wants one condition")
		}
		c, err := r.decide(args[0])
		return !c, err
	case "Fn::And", "Fn::Or":
		if len(args) < 2 || len(args) > 10 {
			return false, fmt.Errorf("%s wants 2 to 10 conditions", fn)
		}
		and := fn == "Fn::And"
		for _, a := range args {
			c, err := r.decide(a)
			if err != nil {
				return false, err
			}
			if c != and {
				return !and, nil
			}
		}
		return and, nil
	}
	return false, fmt.Errorf("%s is not a condition function", fn)
}

func (r *cfnRender) eval(v any) (any, error) {
	if fn, arg, ok := intrinsic(v); ok {
		return r.call(fn, arg)
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, c := range x {
			e, err := r.eval(c)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, drop := e.(noValue); !drop {
				out[k] = e
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, c := range x {
			e, err := r.eval(c)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if _, drop := e.(noValue); !drop {
				out = append(out, e)
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *cfnRender) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := pseudoParameters[name]; ok {
		return v, nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if resources, _ := r.tpl["Resources"].(map[string]any); resources[name] != nil {
		return "<" + name + ">", nil
	}
	return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
}

func (r *cfnRender) call(fn string, arg any) (any, error) {
	args, _ := arg.([]any)
	str := func(v any) (string, error) {
		e, err := r.eval(v)
		if err != nil {
			return "", err
		}
		switch e.(type) {
		case string, int, float64, bool:
			return fmt.Sprint(e), nil
		}
		return "", fmt.Errorf("%s: %v is not a string", fn, e)
	}
	switch fn {
	case "Ref":
		return r.ref(fmt.Sprint(arg))
	case "Fn::GetAtt":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt %v", arg)
		}
		return fmt.Sprintf("<%s.%s>", args[0], args[1]), nil
	case "Fn::If":
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If %v", arg)
		}
		c, err := r.condition(fmt.Sprint(args[0]))
		if err != nil {
			return nil, err
		}
		if c {
			return r.eval(args[1])
		}
		return r.eval(args[2])
	case "Fn::Sub":
		s, _ := arg.(string)
		vars := map[string]string{}
		if len(args) == 2 {
			s, _ = args[0].(string)
			m, _ := args[1].(map[string]any)
			for k, v := range m {
				e, err := str(v)
				if err != nil {
					return nil, err
				}
				vars[k] = e
			}
		}
		var err error
		out := regexp.MustCompile(`\$\{([^}]*)\}`).ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			if v, ok := vars[name]; ok {
				return v
			}
			if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
				return fmt.Sprintf("<%s.%s>", res, attr)
			}
			v, rerr := r.ref(name)
			if rerr != nil {
				err = rerr
				return ""
			}
			if _, isList := v.([]any); isList {
				err = fmt.Errorf("Fn::Sub ${%s}: a list", name)
			}
			return fmt.Sprint(v)
		})
		return out, err
	case "Fn::Join":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Join %v", arg)
		}
		list, err := r.eval(args[1])
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Join of %v", list)
		}
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = fmt.Sprint(it)
		}
		return strings.Join(parts, fmt.Sprint(args[0])), nil
	case "Fn::Split":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Split %v", arg)
		}
		s, err := str(args[1])
		if err != nil {
			return nil, err
		}
		var out []any
		for _, p := range strings.Split(s, fmt.Sprint(args[0])) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Select %v", arg)
		}
		idx, err := str(args[0])
		if err != nil {
			return nil, err
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return nil, err
		}
		list, err := r.eval(args[1])
		if err != nil {
			return nil, err
		}
		items, _ := list.([]any)
		if i < 0 || i >= len(items) {
			return nil, fmt.Errorf("Fn::Select %d of %v", i, items)
		}
		return items[i], nil
	case "Fn::FindInMap":
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::FindInMap %v", arg)
		}
		var keys [3]string
		for i := range keys {
			k, err := str(args[i])
			if err != nil {
				return nil, err
			}
			keys[i] = k
		}
		mappings, _ := r.tpl["Mappings"].(map[string]any)
		m1, _ := mappings[keys[0]].(map[string]any)
		m2, _ := m1[keys[1]].(map[string]any)
		v, ok := m2[keys[2]]
		if !ok {
			return nil, fmt.Errorf("Fn::FindInMap %v: not in Mappings", keys)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%s: not supported by this renderer", fn)
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
