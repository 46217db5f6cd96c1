package io.mcp.affinity.sample;

import java.util.List;

/**
 * The three-instance suite on the servlet stack: Spring AI's Web MVC MCP server on Tomcat, same jar, same
 * properties.
 */
class ThreeInstanceClusterServletTests extends ThreeInstanceClusterTests {

	@Override
	protected List<String> instanceArguments() {
		return List.of("--spring.main.web-application-type=servlet");
	}

}
