"""The backend on Modal (serverless GPU): ``modal deploy -m server.deploy.modal_cloud.app``.

The folder is not called ``modal`` so that it never shadows the ``modal`` package.
"""
