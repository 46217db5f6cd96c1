package io.mcp.affinity.web;

import java.io.IOException;

import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * Every routing rule of {@link OwnerForwardingTests}, on the servlet stack: the same decision through the servlet
 * adapter, Tomcat in front, the forward through Spring Cloud Gateway's Web MVC machinery.
 */
class OwnerForwardingServletTests extends OwnerForwardingTests {

	@Override
	protected SpringApplicationBuilder instance() {
		return new SpringApplicationBuilder(ServletInstanceConfiguration.class).web(WebApplicationType.SERVLET);
	}

	@Configuration(proxyBeanMethods = false)
	@EnableAutoConfiguration
	@Import(SharedBeans.class)
	static class ServletInstanceConfiguration {

		// Stands in for Spring AI's Web MVC transport, as the WebFlux stand-in does for its own.
		@Bean
		RouterFunction<ServerResponse> webMvcStreamableServerRouterFunction() {
			return RouterFunctions.route()
				.POST("/mcp", (request) -> {
					if (request.headers().firstHeader("Mcp-Session-Id") == null) {
						return ServerResponse.ok().header("Mcp-Session-Id", "new-" + System.nanoTime()).body("local");
					}
					request.body(String.class);
					return ServerResponse.ok().body("local");
				})
				.GET("/mcp", (request) -> ServerResponse.ok().body("local stream"))
				// The legacy HTTP+SSE transport: the stream's first event announces the session.
				.GET("/sse", (request) -> ServerResponse.sse((sse) -> {
					try {
						sse.event("endpoint").send("/mcp/message?sessionId=legacy-" + System.nanoTime());
						sse.complete();
					}
					catch (IOException ex) {
						sse.error(ex);
					}
				}))
				.DELETE("/mcp", (request) -> ServerResponse.ok().build())
				.build();
		}

		// The application's own filter, as Spring Security's would be: it turns away requests whose gate is closed.
		@Bean
		Filter gateFilter() {
			return (request, response, chain) -> {
				if ("closed".equals(((HttpServletRequest) request).getHeader(GATE))) {
					((HttpServletResponse) response).setStatus(HttpServletResponse.SC_UNAUTHORIZED);
					return;
				}
				chain.doFilter(request, response);
			};
		}

	}

}
