package resolve

// Secret is one resolved variable.
type Secret struct {
	Key   string
	Value Value
	// Sensitive secrets go to files, never into the environment: the key
	// is listed in its owner's __sensitive, or the value interpolates a
	// sensitive value.
	Sensitive bool
	// Origin says where the value was defined: the alias of the service
	// whose key it is ("svc-abc"), or "env" for a variable of the
	// container's own environment whose references were resolved.
	Origin string
	// Refs lists the references the value went through, in the form
	// "$/KEY" or "$alias/KEY", direct ones only, in order of appearance.
	Refs []string
}

// OriginEnv is the Origin of a container variable.
const OriginEnv = "env"
