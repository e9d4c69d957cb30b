import './base.css';
import './tageditor.css';
