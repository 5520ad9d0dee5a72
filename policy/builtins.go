package policy

import (
	"encoding/json"
	"strings"
)

// builtInSources are the built-in definitions Galleon ships: a few of
// Azure's general-purpose ones, under Azure's names (GUIDs) so scripts that
// assign them by ID work unchanged. Their rules use only what Galleon
// evaluates.
var builtInSources = []struct {
	name string
	body string
}{
	{"e56962a6-4747-49cd-b67b-bf8b01975c4c", `{
		"displayName": "Allowed locations",
		"description": "Restricts the locations resources may be created in. Resources in the 'global' location are not affected.",
		"mode": "Indexed",
		"metadata": {"version": "1.0.0", "category": "General"},
		"parameters": {
			"listOfAllowedLocations": {
				"type": "Array",
				"metadata": {"displayName": "Allowed locations", "description": "The locations resources may be deployed to.", "strongType": "location"}
			}
		},
		"policyRule": {
			"if": {"allOf": [
				{"field": "location", "notIn": "[parameters('listOfAllowedLocations')]"},
				{"field": "location", "notEquals": "global"}
			]},
			"then": {"effect": "deny"}
		}
	}`},
	{"6c112d4e-5bc7-47ae-a041-ea2d9dccd749", `{
		"displayName": "Not allowed resource types",
		"description": "Refuses (or audits) the resource types listed, such as Microsoft.Compute/galleries/images/versions.",
		"mode": "All",
		"metadata": {"version": "2.0.0", "category": "General"},
		"parameters": {
			"listOfResourceTypesNotAllowed": {
				"type": "Array",
				"metadata": {"displayName": "Not allowed resource types", "description": "The resource types that cannot be deployed.", "strongType": "resourceTypes"}
			},
			"effect": {
				"type": "String",
				"allowedValues": ["Audit", "Deny", "Disabled"],
				"defaultValue": "Deny",
				"metadata": {"displayName": "Effect", "description": "Enable or disable the execution of the policy"}
			}
		},
		"policyRule": {
			"if": {"field": "type", "in": "[parameters('listOfResourceTypesNotAllowed')]"},
			"then": {"effect": "[parameters('effect')]"}
		}
	}`},
	{"871b6d14-10aa-478d-b590-94f262ecfa99", `{
		"displayName": "Require a tag on resources",
		"description": "Refuses resources that do not carry the named tag.",
		"mode": "Indexed",
		"metadata": {"version": "1.0.1", "category": "Tags"},
		"parameters": {
			"tagName": {
				"type": "String",
				"metadata": {"displayName": "Tag Name", "description": "Name of the tag, such as 'environment'"}
			}
		},
		"policyRule": {
			"if": {"field": "[concat('tags[', parameters('tagName'), ']')]", "exists": "false"},
			"then": {"effect": "deny"}
		}
	}`},
}

// builtIns are the parsed built-in definitions.
var builtIns = func() []*Definition {
	out := make([]*Definition, 0, len(builtInSources))
	for _, src := range builtInSources {
		var p DefinitionProperties
		if err := json.Unmarshal([]byte(src.body), &p); err != nil {
			panic("built-in policy " + src.name + ": " + err.Error())
		}
		p.PolicyType = PolicyTypeBuiltIn
		if _, err := ParseRule(p.PolicyRule, p.Parameters); err != nil {
			panic("built-in policy " + src.name + ": " + err.Error())
		}
		p.Version = p.Metadata["version"].(string)
		p.Versions = []string{p.Version}
		compact, _ := json.Marshal(json.RawMessage(p.PolicyRule))
		p.PolicyRule = compact
		out = append(out, &Definition{ID: BuiltInDefinitionID(src.name), Name: src.name, Properties: p})
	}
	return out
}()

// BuiltInDefinitions returns copies of the built-in definitions.
func BuiltInDefinitions() []*Definition {
	out := make([]*Definition, len(builtIns))
	for i, d := range builtIns {
		c := *d
		out[i] = &c
	}
	return out
}

func builtInDefinition(name string) *Definition {
	for _, d := range builtIns {
		if strings.EqualFold(d.Name, name) {
			c := *d
			return &c
		}
	}
	return nil
}
