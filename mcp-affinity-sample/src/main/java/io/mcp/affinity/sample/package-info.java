/**
 * A stateful MCP server whose per-session state lives in the memory of one instance, run as many instances with
 * mcp-affinity.
 */
@NullMarked
package io.mcp.affinity.sample;

import org.jspecify.annotations.NullMarked;
