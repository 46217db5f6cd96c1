/**
 * Spring Boot auto-configuration of mcp-affinity: properties under {@code mcp.affinity}, the ownership store and
 * registry (Redis from {@code spring.data.redis.*}, or in memory for a single instance), and the router filter.
 */
@NullMarked
package io.mcp.affinity.autoconfigure;

import org.jspecify.annotations.NullMarked;
