/* The client-profile download (admin only: it runs rpc raven-vpn:client-profile):
 * pick an IKEv2 profile, a user and a platform, and the browser saves the file
 * the server built (.mobileconfig, .ps1 or .sswan) under its suggested name. The
 * file never goes into the page: it becomes a Blob handed to a download link. */

export class ProfileDownload {
    /* @api: the REST module (getData, rpc); @els: the card's elements. */
    constructor(api, els) {
        this.api = api;
        this.els = els;
        els.form.addEventListener('submit', (ev) => {
            ev.preventDefault();
            this.download();
        });
    }

    show(admin) {
        this.els.card.hidden = !admin;
        if (admin) this.load();
    }

    /* The IKEv2 profiles' names into the select, keeping the current choice. */
    async load() {
        const sel = this.els.profile;
        let names = [];
        try {
            const doc = await this.api.getData('raven-vpn:ikev2/profile?fields=name');
            names = (doc['raven-vpn:profile'] || []).map((p) => p.name).filter(Boolean);
        } catch (e) {
            if (e.status === 401) return;
            this.error(`Reading the IKEv2 profiles failed: ${e.message}`);
            return;
        }
        const keep = sel.value;
        sel.replaceChildren(...names.map((n) => new Option(n, n, false, n === keep)));
        this.els.submit.disabled = names.length === 0;
        this.els.empty.hidden = names.length !== 0;
    }

    error(text) {
        this.els.error.textContent = text || '';
        this.els.error.hidden = !text;
    }

    async download() {
        const { profile, user, platform, auth, submit, status } = this.els;
        const name = user.value.trim();
        if (!profile.value || !name) {
            this.error('Choose a profile and enter a user.');
            return;
        }
        this.error('');
        status.textContent = '';
        submit.disabled = true;
        try {
            const input = { profile: profile.value, user: name, platform: platform.value };
            if (auth.value) input.authentication = auth.value;
            const out = await this.api.rpc('raven-vpn:client-profile', input);
            const blob = new Blob([out.content || ''], { type: out['content-type'] || 'application/octet-stream' });
            const url = URL.createObjectURL(blob);
            const a = document.createElement('a');
            a.href = url;
            a.download = out['file-name'] || 'profile';
            a.hidden = true;
            document.body.append(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(url), 60000);
            status.textContent = `Saved ${a.download}`;
        } catch (e) {
            if (e.status !== 401) this.error(e.message || 'The profile could not be made.');
        } finally {
            submit.disabled = false;
        }
    }
}
