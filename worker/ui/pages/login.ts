import { html } from "hono/html";
import { type Html, type Notice, page } from "../layout.ts";

export function loginPage(notice: Notice | null): Html {
  return page({
    title: "Log in",
    notice,
    body: html`<section class="card narrow">
  <h1>Log in to the status page</h1>
  <form method="post" action="/ui/login" class="stack">
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required minlength="16" maxlength="512" aria-describedby="token-help" autofocus>
    <p id="token-help" class="help">An edgeboot API token: the admin token <code>npm start</code> prints, or one from
      <code>POST /v1/tokens</code>. A <code>read</code> token sees every site and changes nothing; a <code>site:&lt;slug&gt;</code>
      token sees and changes only its site. The token stays in this browser session's cookie and is never shown again.</p>
    <button type="submit" class="primary">Log in</button>
  </form>
</section>`,
  });
}
