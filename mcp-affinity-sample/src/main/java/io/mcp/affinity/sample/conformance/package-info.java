/**
 * The sample's {@code conformance} profile: what the official MCP conformance suite's server scenarios call for
 * (their tools, resources, prompts, completions and DNS-rebinding protection), beside the sample's own tools. Nothing
 * here is active without {@code --spring.profiles.active=conformance}.
 */
@NullMarked
package io.mcp.affinity.sample.conformance;

import org.jspecify.annotations.NullMarked;
