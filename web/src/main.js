// The browser UI: Vue 3 with vue-router (hash history, so links such as
// /#/watch/{id} and the server's printed setup link keep working), the
// shared message catalogue through vue-i18n, and Element Plus widgets.

import { createApp } from 'vue';
import App from './App.vue';
import { router } from './router.js';
import { i18n } from './i18n.js';
import './styles/theme.css';
import './styles/app.css';

createApp(App).use(i18n).use(router).mount('#app');
