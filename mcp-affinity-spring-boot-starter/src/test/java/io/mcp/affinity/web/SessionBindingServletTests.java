package io.mcp.affinity.web;

import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.annotation.web.configurers.AbstractHttpConfigurer;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.provisioning.InMemoryUserDetailsManager;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.web.servlet.function.RouterFunction;
import org.springframework.web.servlet.function.RouterFunctions;
import org.springframework.web.servlet.function.ServerResponse;

/** Principal binding on the servlet stack, with Spring Security's servlet side. */
class SessionBindingServletTests extends SessionBindingTests {

	@Override
	protected SpringApplicationBuilder instance() {
		return new SpringApplicationBuilder(SecuredServletInstance.class).web(WebApplicationType.SERVLET);
	}

	@Configuration(proxyBeanMethods = false)
	@EnableAutoConfiguration
	static class SecuredServletInstance {

		@Bean
		SecurityFilterChain security(HttpSecurity http) throws Exception {
			return http.authorizeHttpRequests((requests) -> requests.anyRequest().authenticated())
				.httpBasic(Customizer.withDefaults())
				.csrf(AbstractHttpConfigurer::disable)
				.build();
		}

		@Bean
		InMemoryUserDetailsManager users() {
			return new InMemoryUserDetailsManager(
					User.withUsername("alice").password("{noop}alice-password").roles("USER").build(),
					User.withUsername("bob").password("{noop}bob-password").roles("USER").build());
		}

		@Bean
		RouterFunction<ServerResponse> webMvcStreamableServerRouterFunction() {
			return RouterFunctions.route()
				.POST("/mcp", (request) -> request.headers().firstHeader("Mcp-Session-Id") == null
						? ServerResponse.ok().header("Mcp-Session-Id", "s-" + System.nanoTime()).body("local")
						: ServerResponse.ok().body("local " + request.headers().firstHeader("Mcp-Session-Id")))
				.build();
		}

	}

}
